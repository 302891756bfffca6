"""The player-event endpoint: POST /api/v1/events, and its OpenAPI schema."""
