"""Classification data: labelled images from folders, TensorFlow Datasets or memory."""
