"""Synthetic CLEVRER, split by job: deterministic videos, annotations and questions with postfix programs.

Everything is generated locally from ``(seed, video_id)``: a scene of 3-6 objects (unique colours,
CLEVRER's colour/material/shape vocabulary), a 2-D physics run (objects entering from outside the
view, sliding with friction and colliding elastically, see :mod:`.physics`), one counterfactual
re-run per removed object, 480x320 rendered frames with per-object mask images, and questions of
the four CLEVRER types with postfix programs over the NS-DR executor's 33 modules.

Layout under ``data_dir`` (CLEVRER's names where it has them; the workload puts each generator
setting in its own folder, ``<root>/seed0-frames25-stride5-objects3-5``, see :func:`variant_dir`)::

    meta.json                                    generator settings (regenerated on mismatch)
    validation.json                              questions, CLEVRER style, with answers
    video_validation/video_10000/frame_00005.png rendered frames (only the sampled ones)
    video_validation/video_10000/mask_00005.png  per-frame object masks (pixel = object id + 1)
                                                 (with all_frames: every video frame, not only
                                                 the sampled ones; folder suffix -allframes)
    annotation_validation/annotation_10000.json  object_property, motion_trajectory, collision,
                                                 rendered_frames (per-frame boxes), counterfactual
                                                 trajectories and collisions
    parsed_programs/programs_10000.json          postfix programs per question (executor input)
    propnet_preds/sim_10000.json                 written by the dynamics predictor at run time

Frames are sampled every ``frame_stride`` physics frames: ``frames`` observed (rendered) frames,
then 12 more steps simulated (not rendered) that the dynamics rollout extrapolates into.
Answers are what the NS-DR executor returns on the ground-truth trajectories (templates whose
program errors on a scene are not used), so an executor fed perfect predictions scores 100%.

Modules, by job (the same split as the CLEVR generator in nscharacterize/workloads/clevr_common):

    physics      the 2-D rigid-disc simulation
    videos       generator settings, scene sampling, factual and counterfactual runs
    render       frames and object masks
    annotations  what a perfect dynamics predictor would write (sim_%05d.json content)
    questions    the four CLEVRER question types with NS-DR postfix programs
    dataset      the files on disk: generate, reuse, read

Colours come from the shared table (clevr_common.attributes); files are written atomically
(clevr_common.files).
"""
