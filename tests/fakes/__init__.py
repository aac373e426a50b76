"""Local fake vendor HTTP servers (Okta, Microsoft Graph, Google) for tests."""
