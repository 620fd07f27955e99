"""Annotation file formats: one module per format (yolo, voc, coco) and what they share (common)."""
