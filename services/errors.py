"""Errors the services raise; the API turns each into a 4xx JSON body, the UI into a message."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from texts import say


@dataclass
class Problem:
    """One thing wrong with the input, and where: a field path and, for recipients, the index."""

    field: str
    message: str
    index: int | None = None

    def as_json(self) -> dict:
        data: dict = {"field": self.field, "message": self.message}
        if self.index is not None:
            data["index"] = self.index
        return data


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class InvalidInput(ServiceError):
    status_code = 422


class Unauthorized(ServiceError):
    status_code = 401


class Forbidden(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class TooLarge(ServiceError):
    status_code = 413


class Busy(ServiceError):
    """Too much of this is being done for others right now: try again after `retry_after_s`."""

    status_code = 503

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, round(retry_after_s))


class TooManyAttempts(ServiceError):
    status_code = 429

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, round(retry_after_s))
        super().__init__(say("too many failed attempts; try again in {s} s", s=self.retry_after_s))


@dataclass
class ProblemList:
    """Collects problems up to a limit, counting the rest, so a million bad rows do not make a huge reply."""

    limit: int = 1000
    items: list[Problem] = field(default_factory=list)
    total: int = 0

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(problem)


def validate(model: type[BaseModel], data: dict, prefix: str) -> BaseModel:
    """Validate `data` as `model`, turning pydantic's errors into InvalidInput under `prefix`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(".".join([prefix, *map(str, e["loc"])]), e["msg"]) for e in exc.errors(include_url=False)
        ]
        raise InvalidInput(f"{prefix} is invalid", problems) from None
