"""AWS adapters (boto3 lives only here)."""
