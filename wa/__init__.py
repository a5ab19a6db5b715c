"""WhatsApp behind one small async interface; one implementation per account transport."""
