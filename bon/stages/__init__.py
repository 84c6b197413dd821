"""The stages of the main job, one file each, in flow order: select, sample, score, judge, check, curves (and
results, which writes the artifacts); base.py is the one model stage. bon/pipeline.py lists them and runs them."""
