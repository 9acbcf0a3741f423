"""Experiment configs: an `ml_collections.ConfigDict` with every field, from `configs/*.py`.

    defaults     every field with its default (`base_config`), the seeds a config trains
    files        finding and running config files, `load_config(spec, overrides)`
    overrides    'dotted.key=value' overrides, and the ones `--seeds` / `--grid` stand for
    validation   `validate(cfg)`: every value checked, one-line errors naming the fix;
                 `doubts`: values allowed but probably not meant, as warnings
    resume       a saved config.json read back, and which keys a resumed run may change

The model itself only ever sees the frozen `ModelConfig` that `grokjax.experiment` builds.
"""

from grokjax.config.defaults import base_config, flatten, seeds, split_seeds, to_json
from grokjax.config.files import CONFIG_DIR, exec_file, load_config, resolve_path, spec_name
from grokjax.config.overrides import apply_overrides, grid_override, seed_overrides
from grokjax.config.resume import RESUMABLE_KEYS, from_saved, result_changes
from grokjax.config.validation import doubts, validate

__all__ = ["base_config", "flatten", "seeds", "split_seeds", "to_json", "CONFIG_DIR",
           "exec_file", "load_config", "resolve_path", "spec_name", "apply_overrides",
           "grid_override", "seed_overrides", "RESUMABLE_KEYS", "from_saved", "result_changes",
           "validate", "doubts"]
