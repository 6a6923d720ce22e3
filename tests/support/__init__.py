"""Test infrastructure: real servers the tests start (Mosquitto, PostgreSQL) and fault injection."""
