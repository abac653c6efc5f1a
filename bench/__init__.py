"""`make bench`: this service against a function that calls the official Vonage Python SDK."""
