"""Every taskiq task and the broker. Workers start with `taskiq worker tasks.broker:broker`."""
