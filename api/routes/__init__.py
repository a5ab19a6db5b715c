"""Thin handlers: parse, call services/, shape the reply."""
