# Sourced by the perf scripts: hold on to freed guest memory while they run.
#
# In a VM with free page reporting (virtio-balloon), memory the guest frees is handed
# back to the host, and the next write to it faults on the host. Deleting a 1 GiB upload
# and writing the next one then costs the writing server two to three times the CPU, at
# random (measured: 0.4 s against 1.3-1.8 s of server CPU for the same WebDAV PUT).
# While a benchmark runs, nothing is reported (no free block reaches order 11); the
# caller's cleanup puts the setting back with resume_page_reporting. Without root or
# outside such a VM both are no-ops.

page_reporting_knob=/sys/module/page_reporting/parameters/page_reporting_order
saved_page_reporting=

pause_page_reporting() {
    [ -w "$page_reporting_knob" ] || return 0
    saved_page_reporting=$(cat "$page_reporting_knob")
    echo 11 > "$page_reporting_knob"
}

resume_page_reporting() {
    if [ -n "$saved_page_reporting" ]; then
        echo "$saved_page_reporting" > "$page_reporting_knob" || true
    fi
}
