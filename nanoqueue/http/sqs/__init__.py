"""The Amazon SQS wire protocols (JSON 1.0 and Query), translated to the queue service."""
