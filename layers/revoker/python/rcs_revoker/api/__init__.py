"""What the HTTP API answers: problem+json for every error."""
