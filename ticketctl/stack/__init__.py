"""The stack model: the services, images, ports, volumes and healthchecks of one project, as pure data."""
