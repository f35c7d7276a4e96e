"""A JPEG's EXIF orientation, read and applied inside the TensorFlow graph.

Cameras store pixels as the sensor saw them and record in the EXIF tag 0x0112
how to turn them for display. `tf.io.decode_image` ignores that tag, so a
portrait photo would come out lying on its side — and its boxes, drawn on the
upright photo, would no longer fit. `exif_orientation` parses the tag from the
encoded bytes with tensor ops (no Python, so it runs in `tf.data` and in an
exported SavedModel) and `apply_exif_orientation` turns the decoded image the
way viewers, `PIL.ImageOps.exif_transpose` and torchvision's
`decode_jpeg(apply_exif_orientation=True)` do.

The tag is looked for in the APP1 "Exif" segment within the first 64 KiB (the
segment's maximum size) of a JPEG; anything else — PNG, GIF, a JPEG without
EXIF, a malformed segment — reads as orientation 1 (as stored).
"""

import tensorflow as tf

_HEADER_BYTES = 65536
_MAX_ENTRIES = 64  # IFD0 entries searched for the orientation tag
_ORIENTATION_TAG = 0x0112
_EXIF_HEADER = (0xFF, 0xE1, None, None, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00)  # APP1 len "Exif\0\0"


def _find_exif_segment(data):
    """Index of the first APP1 `Exif\\0\\0` header in `data` uint8 `[L]`, and whether found."""
    size = tf.shape(data)[0] - len(_EXIF_HEADER)
    matches = tf.ones([tf.maximum(size, 0)], tf.bool)
    for k, byte in enumerate(_EXIF_HEADER):
        if byte is not None:
            matches &= tf.equal(data[k : k + tf.maximum(size, 0)], byte)
    found = tf.reduce_any(matches)
    return tf.argmax(tf.cast(matches, tf.int32), output_type=tf.int32), found


def exif_orientation(contents):
    """The EXIF orientation (1..8) of encoded image bytes; 1 when there is none.

    Args:
        contents: scalar string tensor, encoded image bytes.

    Returns:
        int32 scalar in 1..8.

    Example:
    >>> int(exif_orientation(tf.io.encode_png(tf.zeros([2, 2, 3], tf.uint8))))
    1
    """
    head = tf.strings.substr(contents, 0, _HEADER_BYTES)
    data = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int32)  # [n <= 64 KiB]
    # Zero padding makes every read below in range, whatever the offsets say.
    data = tf.pad(data, [[0, _HEADER_BYTES + 16 * _MAX_ENTRIES - tf.shape(data)[0]]])
    last = tf.shape(data)[0] - 1
    segment, found = _find_exif_segment(data)
    tiff = segment + 10  # the TIFF header follows "Exif\0\0"
    little_endian = tf.equal(data[tf.minimum(tiff, last)], 0x49)  # "II", else "MM"

    def read(offsets, num_bytes):
        # Unsigned integers of `num_bytes` at `offsets` from the TIFF header.
        index = tf.clip_by_value(tiff + offsets[..., None] + tf.range(num_bytes), 0, last)
        values = tf.gather(data, index)  # [..., num_bytes]
        weights = 256 ** tf.range(num_bytes)
        weights = tf.where(little_endian, weights, tf.reverse(weights, [0]))
        return tf.reduce_sum(values * weights, axis=-1)

    ifd = read(tf.constant(4), 4)  # offset of IFD0
    count = read(ifd, 2)
    entry = ifd + 2 + 12 * tf.range(_MAX_ENTRIES)  # [E] offsets of the entries
    is_orientation = (read(entry, 2) == _ORIENTATION_TAG) & (tf.range(_MAX_ENTRIES) < count)
    value = read(entry + 8, 2)  # a SHORT sits in the first bytes of the value field
    orientation = tf.reduce_max(tf.where(is_orientation, value, 0))
    is_jpeg = tf.equal(data[0], 0xFF) & tf.equal(data[1], 0xD8)
    valid = is_jpeg & found & (orientation >= 1) & (orientation <= 8)
    return tf.where(valid, orientation, 1)


def apply_exif_orientation(image, orientation):
    """Turns a decoded image `[H, W, C]` upright for its EXIF orientation (1..8).

    Args:
        image: `[H, W, C]` tensor as stored in the file.
        orientation: int scalar tensor, the EXIF orientation; 1 leaves the image as it is.

    Returns:
        `[H, W, C]`, or `[W, H, C]` for orientations 5 to 8 (a quarter turn).
    """
    transpose = lambda x: tf.transpose(x, [1, 0, 2])  # noqa: E731
    branches = [
        lambda: image,  # 1: upright
        lambda: tf.reverse(image, [1]),  # 2: mirrored left-right
        lambda: tf.reverse(image, [0, 1]),  # 3: turned 180 degrees
        lambda: tf.reverse(image, [0]),  # 4: mirrored top-bottom
        lambda: transpose(image),  # 5: mirrored along the main diagonal
        lambda: tf.reverse(transpose(image), [1]),  # 6: turned 90 degrees clockwise
        lambda: tf.reverse(transpose(image), [0, 1]),  # 7: mirrored along the anti-diagonal
        lambda: tf.reverse(transpose(image), [0]),  # 8: turned 90 degrees counter-clockwise
    ]
    index = tf.clip_by_value(tf.cast(orientation, tf.int32) - 1, 0, 7)
    return tf.switch_case(index, branches)
