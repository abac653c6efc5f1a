"""Adapters: the only code that talks to Secrets Manager, DynamoDB and Vonage."""
