"""The client of the rcs-revoker API: the library behind the `rcs-revoker` command.

A sending system installs only this package (`pip install .` from the repository): it signs every call with
SigV4 from the standard AWS credential chain, retries what is safe to retry, and turns the service's
problem+json answers into `ProblemError`. Nothing here imports the service's own code.
"""
