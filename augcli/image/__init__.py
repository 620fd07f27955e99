"""Images: OpenCV and DICOM I/O that keeps bit depth and channels, annotations and their file
formats (``formats/``), and the image ops by domain (``ops/``)."""
