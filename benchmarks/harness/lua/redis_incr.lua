-- Increment a counter: the Redis side of the script-eval comparison.
return redis.call("INCR", KEYS[4])
