"""The renewals part of the GraphQL API."""
