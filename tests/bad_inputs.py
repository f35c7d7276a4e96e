"""One shared set of bad and unusual image files, run through every loader's tests.

`write_image_corpus(folder)` writes the files and returns `CorpusFile`s: the
file name, what it is, and what every tfvision decoder must do with it —
decode it to the given upright RGB shape, or refuse it with a reason that
contains `reason`.

`write_annotated_images(folder)` and `ANNOTATED_CASES` are the annotation
corpus: one image per box problem (NaN, inverted, negative, outside, zero-area,
unknown class, no boxes), with what a detection loader must keep of it;
`coco_annotations`, `csv_annotations` and `voc_annotations` write the same
boxes in each format, `corrupt_annotation_files` the COCO / CSV files that must
be refused and `corrupt_voc_files` the XML files that must be skipped.
"""

import dataclasses
import io
import json
import os

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class CorpusFile:
    name: str
    description: str
    shape: tuple = None  # decoded [H, W, 3]; None when the file must be refused
    reason: str = None  # part of the refusal message

    @property
    def decodes(self):
        return self.shape is not None


HEIGHT, WIDTH = 30, 50
HUGE = 10000


def _pixels():
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([x * 5, y * 8, (x + y) * 3], axis=-1).astype(np.uint8)


def _jpeg(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def write_image_corpus(folder, huge=True):
    """Writes the corpus into `folder`; returns the list of `CorpusFile`s.

    Args:
        folder: str, an existing folder.
        huge: bool, include the 10000 x 10000 JPEG (about 1.5 s to write and
            to decode). Defaults to `True`.
    """
    rgb = Image.fromarray(_pixels())
    good = _jpeg(rgb, quality=95)
    rotated = rgb.getexif()
    rotated[0x0112] = 6  # stored sideways: turn 90 degrees clockwise to view
    files = {
        "zero_bytes.jpg": (b"", CorpusFile("zero_bytes.jpg", "zero-byte file", reason="empty")),
        "truncated.jpg": (
            good[: len(good) // 2],
            CorpusFile("truncated.jpg", "JPEG cut in half", reason="JPEG"),
        ),
        "text.jpg": (
            b"name,label\nnot,an image\n",
            CorpusFile("text.jpg", "text file named .jpg", reason="Unknown image file format"),
        ),
        "rgba.png": (None, CorpusFile("rgba.png", "PNG with alpha", (HEIGHT, WIDTH, 3))),
        "grayscale.png": (None, CorpusFile("grayscale.png", "grayscale PNG", (HEIGHT, WIDTH, 3))),
        "cmyk.jpg": (
            _jpeg(rgb.convert("CMYK"), quality=95),
            CorpusFile("cmyk.jpg", "CMYK JPEG", (HEIGHT, WIDTH, 3)),
        ),
        "sixteen_bit.png": (None, CorpusFile("sixteen_bit.png", "16-bit PNG", (HEIGHT, WIDTH, 3))),
        "animated.gif": (None, CorpusFile("animated.gif", "animated GIF", (HEIGHT, WIDTH, 3))),
        "image.webp": (None, CorpusFile("image.webp", "WebP", (HEIGHT, WIDTH, 3))),
        "exif_rotated.jpg": (
            _jpeg(rgb, quality=95, exif=rotated.tobytes()),
            CorpusFile("exif_rotated.jpg", "EXIF orientation 6 JPEG", (WIDTH, HEIGHT, 3)),
        ),
    }
    if huge:
        files["huge.jpg"] = (
            _jpeg(Image.new("RGB", (HUGE, HUGE), (200, 40, 90)), quality=50),
            CorpusFile("huge.jpg", "10000 x 10000 JPEG", (HUGE, HUGE, 3)),
        )
    for name, (contents, _) in files.items():
        path = os.path.join(folder, name)
        if contents is not None:
            with open(path, "wb") as handle:
                handle.write(contents)
    Image.fromarray(np.dstack([_pixels(), np.full((HEIGHT, WIDTH), 90, np.uint8)]), "RGBA").save(
        os.path.join(folder, "rgba.png")
    )
    Image.fromarray(_pixels()[..., 0], "L").save(os.path.join(folder, "grayscale.png"))
    _write_png16(os.path.join(folder, "sixteen_bit.png"), _pixels().astype(np.uint16) * 257)
    rgb.save(os.path.join(folder, "animated.gif"), save_all=True,
             append_images=[Image.fromarray(255 - _pixels())])
    rgb.save(os.path.join(folder, "image.webp"), lossless=True)
    return [entry for _, entry in files.values()]


def _write_png16(path, pixels):
    import tensorflow as tf

    tf.io.write_file(path, tf.io.encode_png(pixels))


def reference_pixels(folder, entry):
    """The upright RGB pixels of a decodable file by PIL (`exif_transpose`), the reference."""
    from PIL import ImageOps

    with Image.open(os.path.join(folder, entry.name)) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


# === The annotation corpus ===

ANNOTATION_CLASSES = ("cat", "dog")
_GOOD = (5.0, 3.0, 25.0, 15.0)  # pixel x_min, y_min, x_max, y_max on the 50 x 30 image
_GOOD_YXYX = (3 / HEIGHT, 5 / WIDTH, 15 / HEIGHT, 25 / WIDTH)


@dataclasses.dataclass(frozen=True)
class AnnotatedCase:
    """One image of the annotation corpus and what a detection loader must make of its boxes.

    `boxes` are pixel `(x_min, y_min, x_max, y_max)` with one class name each
    (`"zebra"` is no class of the corpus); every loader writes them in its own
    format. `kept` are the relative `yxyx` boxes (labels) the loader must
    return, in order, after dropping `dropped` annotations.
    """

    name: str
    description: str
    boxes: tuple
    classes: tuple
    kept: tuple
    kept_labels: tuple
    dropped: int


def _case(name, description, bad_box=None, bad_class="dog", kept=(), dropped=1):
    boxes = (_GOOD,) + ((bad_box,) if bad_box is not None else ())
    classes = ("cat",) + ((bad_class,) if bad_box is not None else ())
    kept_labels = (0,) + tuple(ANNOTATION_CLASSES.index(bad_class) for _ in kept)
    return AnnotatedCase(name, description, boxes, classes, (_GOOD_YXYX,) + tuple(kept),
                         kept_labels, dropped)


ANNOTATED_CASES = (
    _case("good.png", "a valid box next to the good box", (30.0, 10.0, 45.0, 28.0),
          kept=((10 / HEIGHT, 30 / WIDTH, 28 / HEIGHT, 45 / WIDTH),), dropped=0),
    _case("nan_box.png", "a box with a NaN coordinate", (float("nan"), 3.0, 25.0, 15.0)),
    _case("inverted_box.png", "an inverted box (x_max < x_min, a negative width)",
          (25.0, 3.0, 5.0, 15.0)),
    _case("negative_box.png", "a box with negative coordinates, mostly inside",
          (-10.0, -5.0, 20.0, 15.0), kept=((0.0, 0.0, 15 / HEIGHT, 20 / WIDTH),), dropped=0),
    _case("outside_box.png", "a box entirely outside the image", (60.0, 0.0, 80.0, 10.0)),
    _case("zero_area_box.png", "a zero-area box (x_max = x_min)", (10.0, 10.0, 10.0, 20.0)),
    _case("unknown_class.png", "a valid box of an unknown class", (30.0, 10.0, 45.0, 28.0),
          bad_class="zebra"),
    AnnotatedCase("no_boxes.png", "an image without boxes", (), (), (), (), 0),
)


def write_annotated_images(folder):
    """Writes one 50 x 30 PNG per `ANNOTATED_CASES` entry into `folder`; returns the cases."""
    os.makedirs(folder, exist_ok=True)
    for case in ANNOTATED_CASES:
        Image.fromarray(_pixels()).save(os.path.join(folder, case.name))
    return ANNOTATED_CASES


def coco_annotations(cases=ANNOTATED_CASES):
    """The cases as a COCO dict (`bbox` = `[x, y, width, height]`; zebra = category 99)."""
    ids = {"cat": 1, "dog": 2, "zebra": 99}
    images, annotations = [], []
    for image_id, case in enumerate(cases, start=1):
        images.append({"id": image_id, "file_name": case.name, "height": HEIGHT, "width": WIDTH})
        for (x1, y1, x2, y2), name in zip(case.boxes, case.classes):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": ids[name], "bbox": [x1, y1, x2 - x1, y2 - y1]})
    categories = [{"id": ids[name], "name": name} for name in ANNOTATION_CLASSES]
    return {"images": images, "annotations": annotations, "categories": categories}


def csv_annotations(cases=ANNOTATED_CASES):
    """The cases as the detection CSV (`bbox` = pixel `y_min x_min y_max x_max`)."""
    lines = ["file,bbox,label"]
    for case in cases:
        boxes = " ".join(f"{y1:g} {x1:g} {y2:g} {x2:g}" for x1, y1, x2, y2 in case.boxes)
        lines.append(f"{case.name},{boxes},{' '.join(case.classes)}")
    return "\n".join(lines) + "\n"


def corrupt_annotation_files():
    """Annotation files no loader may read: `{file name: (bytes, part of the error)}`.

    The refusal message must also name the file.
    """
    coco = json.dumps(coco_annotations()).encode()
    return {
        "truncated.json": (coco[: len(coco) // 2], "is not valid JSON"),
        "not_json.json": (b"images: [oops", "is not valid JSON"),
        "list.json": (b"[1, 2, 3]", "is not a COCO annotation file"),
        "no_annotations.json": (b'{"images": [], "categories": []}', "missing key(s)"),
        "binary.csv": (b"\xff\xfe\x00\x81 not text", "is not a readable CSV file"),
        "empty.csv": (b"", "is empty"),
        "no_header.csv": (b"good.png,3 5 15 25,cat\n", "has no 'file' column"),
    }


def voc_annotations(cases=ANNOTATED_CASES):
    """The cases as VOC XML files: `{file name: XML text}`, named in case order."""
    files = {}
    for i, case in enumerate(cases):
        objects = "".join(
            f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x1:g}</xmin>"
            f"<ymin>{y1:g}</ymin><xmax>{x2:g}</xmax><ymax>{y2:g}</ymax></bndbox></object>"
            for (x1, y1, x2, y2), name in zip(case.boxes, case.classes)
        )
        files[f"{i:02d}_{os.path.splitext(case.name)[0]}.xml"] = (
            f"<annotation><filename>{case.name}</filename><size><width>{WIDTH}</width>"
            f"<height>{HEIGHT}</height><depth>3</depth></size>{objects}</annotation>"
        )
    return files


def corrupt_voc_files():
    """VOC XML files no loader may use: `{file name: (bytes, part of the reason)}`.

    One XML file describes one image, so these are skipped and counted (the
    message names each file), or refused with `strict=True`.
    """
    good = voc_annotations(ANNOTATED_CASES[:1])["00_good.xml"].encode()
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><annotation><filename>&lol2;'
              b"</filename></annotation>")
    return {
        "90_truncated.xml": (good[: len(good) // 2], "is not valid XML"),
        "91_binary.xml": (b"\x89PNG\r\n\x1a\n\x00\x00", "is not valid XML"),
        "92_entities.xml": (laughs, "declares a DTD or entities"),
        "93_no_filename.xml": (b"<annotation><size/></annotation>", "has no <filename>"),
    }
