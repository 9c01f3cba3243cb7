"""Reading a rendered ``docker-compose.yml`` and ``.env`` back into plain service specs."""
