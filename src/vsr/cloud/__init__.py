"""AWS: S3 transfers and status, the upload trigger (Lambda), the local event watcher."""
