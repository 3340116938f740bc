# nova's own format inspector (Debian's python3-nova: nova/image/format_inspector.py,
# the security backport of bug 2059809) over a list of files, as nova's
# images.do_image_deep_inspection runs it: detect_file_format, then
# safety_check. Prints one JSON object per file, in the order given:
#   {"path", "format" (str(inspector), or null when detection failed),
#    "virtual_size", "safe" (false when detection or the check raised),
#    "error" (the exception text, or null)}
#   nova_inspect.py FILE...
import json
import sys

from nova.image import format_inspector

for path in sys.argv[1:]:
    out = {'path': path, 'format': None, 'virtual_size': None, 'safe': False, 'error': None}
    try:
        inspector = format_inspector.detect_file_format(path)
        out['format'] = str(inspector)
        out['virtual_size'] = inspector.virtual_size
        out['safe'] = bool(inspector.safety_check())
    except Exception as e:  # noqa: nova turns every failure into ImageUnacceptable
        out['error'] = '%s: %s' % (type(e).__name__, e)
        out['safe'] = False
    print(json.dumps(out), flush=True)
