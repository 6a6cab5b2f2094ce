"""Things the CLEVR-family workloads share, one module per job.

CLEVR (NSCL, and any other CLEVR workload, e.g. NMN) and CLEVRER (NS-DR) draw objects from the
same attribute vocabulary and write their synthetic datasets the same way, so both take from here:

    attributes   the colour table (name -> RGB) and each dataset's attribute vocabularies
    files        atomic JSON and PNG writers (readers never see a half-written file)

and the synthetic CLEVR dataset itself, split by job:

    vocab        fixed question and program vocabularies, tokenizers
    scenes       scene sampling, CLEVR relationships, image file names
    render       480x320 drawings of scenes
    programs     ground-truth execution of CLEVR programs
    questions    template questions with CLEVR programs
    dataset      the CLEVR v1.0 layout on disk: generate, reuse, read

Model-specific views of the data (NSCL's program translation and samples) live with the model;
the CLEVRER video generator lives with NS-DR (nscharacterize/workloads/nsdr), the only workload that reads it.
"""
