"""The billing part of the GraphQL API."""
