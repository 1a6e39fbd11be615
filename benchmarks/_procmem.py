"""Memory probes for the benchmarks' child processes (Linux ``/proc``), one copy.

``PROBES`` is source text pasted at the top of a child script (the child runs with
``python -c``): ``rss_mb()`` returns the resident and peak resident memory in MiB, and
``reset_peak()`` resets the peak (``/proc/self/clear_refs``), returning False where the
kernel does not allow it. The child must ``import re`` before calling them.
"""

PROBES = r"""
def rss_mb():
    text = open("/proc/self/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024
    hwm = int(re.search(r"VmHWM:\s+(\d+)", text).group(1)) / 1024
    return rss, hwm

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
"""
