# Picture settings of one video (deinterlace, crop, crop_pad, output aspect and size): the config's,
# overridden by the manifest row's columns of the same names. The probe step plans with them.
from vsr.media.picture import settings_from  # noqa: E402


def get_picture_settings_json(wildcards):
    row_values = get_row(wildcards).to_dict()
    return json.dumps(settings_from(config, row_values), sort_keys=True)
