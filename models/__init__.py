"""Sidecar's domain objects and the Firestore repository; nothing here knows Flask or Gmail."""
