"""The GraphQL API and the HTTP app that serves it."""
