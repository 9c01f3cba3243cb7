"""The clients of the servers: MySQL, Redis and the search engine; each translates its SDK's errors."""
