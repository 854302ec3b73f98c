"""AWS adapters (boto3 lives only here): the Kinesis event source."""
