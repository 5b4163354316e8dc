"""HTTP front ends: native JSON API, MemDB script API and SQS protocols."""
