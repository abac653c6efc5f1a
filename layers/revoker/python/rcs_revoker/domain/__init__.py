"""The domain core: requests, regions, the revocation rules. No AWS, no HTTP, no environment."""
