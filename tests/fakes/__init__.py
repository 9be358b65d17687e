"""Fakes of remote services that the tests run the real client libraries against."""
