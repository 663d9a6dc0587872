"""Notification: receivers, retries and the Go templates they render."""
