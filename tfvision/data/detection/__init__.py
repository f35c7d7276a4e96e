"""Detection data: images with padded box targets from COCO, CSV, VOC or the shapes."""
