"""Test helpers: an in-process uvicorn server on a free port, and waiting for conditions."""
