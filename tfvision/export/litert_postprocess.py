"""A detector's box decoding and NMS as LiteRT's `TFLite_Detection_PostProcess` operator.

LiteRT int8 cannot quantize tfvision's own NMS (TensorFlow 2.21's calibrator
crashes on its `while`, and its quantizer fails on the unrolled form), and a
quantized box decoding and NMS lose most of a detector's accuracy anyway. The
TF Object Detection API's answer, used here: an empty `tf.function` marked
`experimental_implements="TFLite_Detection_PostProcess"`, which the converter
replaces by that operator. It decodes SSD box codes against centre-size
anchors and runs per-class greedy NMS in float32 inside one kernel, fed by the
quantized network. It ships in every LiteRT runtime's builtin resolver (a
"custom" operator by name only: no Flex delegate, no extra library), and it
runs on a batch of one.

Measured on the demo detector (`make demo`, the shapes test split), against
tfvision's NMS in LiteRT float32 (VOC07 mAP@0.5 0.7609, 2.3 ms a call):
float32 0.7606 in 1.2 ms, int8 0.7634 in 0.7 ms. It does not clamp the log
sizes nor suppress on boxes clipped to the image, so 7 of 64 images differed
from Keras by one low-scoring detection; float32 exports keep tfvision's NMS,
whose detections match Keras one to one, and int8 uses this operator.
"""

import numpy as np
import tensorflow as tf

OPERATOR = "TFLite_Detection_PostProcess"


def center_size_anchors(anchors):
    """Relative `yxyx` anchors `[N, 4]` → `[N, 4]` `(ycenter, xcenter, h, w)`, as the operator reads them."""
    anchors = np.asarray(anchors, np.float32)
    return np.concatenate([(anchors[:, :2] + anchors[:, 2:]) / 2.0,
                           anchors[:, 2:] - anchors[:, :2]], axis=-1)


def detection_postprocess(nms, num_classes, variances):
    """A `tf.function(codes, scores, anchors)` the LiteRT converter turns into the operator.

    Args:
        nms: the detector's `NonMaxSuppression` (thresholds and limits).
        num_classes: int, classes without background.
        variances: the SSD box coder's 4 variances (the operator's scales are
            their inverses).

    Returns:
        a `tf.function` taking `codes [1, N, 4]` (`dy, dx, dh, dw`),
        `scores [1, N, C]` (probabilities, no background column) and
        `anchors [N, 4]` (centre-size), returning `boxes [1, K, 4]`,
        `classes [1, K]`, `scores [1, K]` and `num_detections [1]`, all float32.
        Called outside the converter, it returns zeros: only LiteRT runs it.
    """
    per_class = nms.max_detections_per_class or nms.max_detections
    attributes = {
        "max_detections": ("i", int(nms.max_detections)),
        "max_classes_per_detection": ("i", 1),
        "detections_per_class": ("i", int(per_class)),
        "use_regular_nms": ("b", "true"),
        "nms_score_threshold": ("f", float(nms.score_threshold)),
        "nms_iou_threshold": ("f", float(nms.iou_threshold)),
        "y_scale": ("f", 1.0 / variances[0]),
        "x_scale": ("f", 1.0 / variances[1]),
        "h_scale": ("f", 1.0 / variances[2]),
        "w_scale": ("f", 1.0 / variances[3]),
        "num_classes": ("i", int(num_classes)),
    }
    signature = " ".join([f'name: "{OPERATOR}"'] + [
        f'attr {{ key: "{key}" value {{ {kind}: {value} }} }}'
        for key, (kind, value) in attributes.items()
    ])
    k = int(nms.max_detections)

    @tf.function(experimental_implements=signature)
    def postprocess(codes, scores, anchors):
        # The body only gives the outputs their shapes; the converter drops it.
        del scores, anchors
        zeros = tf.zeros([tf.shape(codes)[0], k], tf.float32)
        return (tf.zeros([tf.shape(codes)[0], k, 4], tf.float32), zeros, zeros,
                tf.zeros([tf.shape(codes)[0]], tf.float32))

    return postprocess
