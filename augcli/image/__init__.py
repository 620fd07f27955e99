"""Images: OpenCV I/O that keeps bit depth and channels, and the image ops by domain."""
