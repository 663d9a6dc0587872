"""Templates rendered by the real promtool 2.42 (labels and value below), kept as a fast oracle table."""

RECORDED_LABELS = {"instance": "host.example.com:9100", "job": "node"}
RECORDED_VALUE = 1234567.0

PROMTOOL_RECORDED: list[tuple[str, str]] = [
    (
        '{{ printf "%.2f %d %s %v %q %x %5.1f|%-4d|%05d|%+d|%e|%g|%G|%t|%%" 3.14159 42 "hi" 1e6 "a\\"b" 255 2.25 7 42 5 1234.5678 0.000012345 1e21 true }}',
        '3.14 42 hi 1e+06 "a\\"b" ff   2.2|7   |00042|+5|1.234568e+03|1.2345e-05|1E+21|true|%',
    ),
    (
        '{{ printf "%s %d" 1.5 "x" }}{{ printf "%d" }}{{ printf "%d" 1 2 }}',
        "%!s(float64=1.5) %!d(string=x)%!d(MISSING)1%!(EXTRA int=2)",
    ),
    (
        "{{ 0.1 }} {{ 100000.0 }} {{ 1e20 }} {{ 1e21 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }} {{ 3.0 }} {{ 1e6 }}",
        "0.1 100000 1e+20 1e+21 0.0001 1e-05 -0 3 1e+06",
    ),
    (
        '{{ $value }} {{ printf "%v" $value }} {{ printf "%.3e" $value }} {{ printf "%8.3f|" $value }} {{ printf "%x %X %o %b %c %q %U" 255 255 8 5 65 66 67 }}',
        "1.234567e+06 1.234567e+06 1.235e+06 1234567.000| ff FF 10 101 A 'B' U+0043",
    ),
    (
        '{{ print 1 2 "a" 3 "b" "c" 4.5 true nil }}|{{ println 1 "a" }}|',
        "1 2a3bc4.5 true <nil>|1 a\n|",
    ),
    (
        '{{ len "héllo" }} {{ index "abc" 1 }} {{ slice "hello" 1 3 }} {{ len $labels }} {{ index $labels "job" }} {{ index $labels "nope" }}|',
        "6 98 el 2 node |",
    ),
    (
        '{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 "" }} {{ or 0 "x" 3 }} {{ not 0 }} {{ not "a" }} {{ and }}',
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:202: executing "__alert_T" at <and>: wrong number of args for and: want at least 1 got 0>',
    ),
    (
        '{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ eq "a" "a" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 1.5 }}',
        "true true true true true true true true",
    ),
    (
        "{{ eq 1 1.5 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <eq 1 1.5>: error calling eq: incompatible types for comparison>',
    ),
    (
        "{{ lt true false }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <lt true false>: error calling lt: invalid type for comparison>',
    ),
    (
        "{{ lt $labels 1 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <lt $labels 1>: error calling lt: invalid type for comparison>',
    ),
    ("{{ eq $value 1234567.0 }} {{ gt $value 1000.0 }}", "true true"),
    (
        "{{ gt $value 1000 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <gt $value 1000>: error calling gt: incompatible types for comparison>',
    ),
    (
        "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
        "instance=host.example.com:9100;job=node;",
    ),
    (
        "{{ range $labels }}{{ . }},{{ else }}empty{{ end }}|{{ range $x := .NoSuch }}x{{ else }}none{{ end }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:179: executing "__alert_T" at <.NoSuch>: can\'t evaluate field NoSuch in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>',
    ),
    (
        "{{ with $labels.job }}job={{ . }}{{ else }}nojob{{ end }} {{ with $labels.zzz }}z{{ else }}i={{.}}{{ end }}",
        "job=node i={map[instance:host.example.com:9100 job:node] map[]  1.234567e+06}",
    ),
    (
        '{{ if and (gt $value 1.0) (eq $labels.job "node") }}both{{ else if true }}else{{ end }}',
        "both",
    ),
    ("{{- /* a comment */ -}} trimmed {{- 3 -}} x {{ -3 }} {{ 2 -}}", "trimmed3x -3 2"),
    ("   y", "   y"),
    (
        '{{ define "foo" }}[{{ . }}]{{ end }}{{ template "foo" 42 }}{{ template "foo" }}{{ block "bar" $labels.job }}<{{ . }}>{{ end }}',
        "[42][<no value>]<node>",
    ),
    (
        '{{ template "nope" }}',
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:124: executing "__alert_T" at <{{template "nope"}}>: template "nope" not defined>',
    ),
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}", "2"),
    ("{{ $x := 1 }}{{ range $labels }}{{ $x = . }}{{ end }}{{ $x }}", "node"),
    (
        "{{ .Labels.job }} {{ .Value }} {{ .ExternalURL }}| {{ .Nope }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:166: executing "__alert_T" at <.Nope>: can\'t evaluate field Nope in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>',
    ),
    (
        "{{ .Labels.job.foo }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:122: executing "__alert_T" at <.Labels.job.foo>: can\'t evaluate field foo in type string>',
    ),
    (
        '{{ $labels.job | printf "%s!" | printf "%q" }} {{ "x" | len }} {{ 3 | printf "%d-%d" 4 }}',
        '"node!" 1 4-3',
    ),
    (
        "{{ \"\\x41\\u00e9\\t|\" }} {{ `raw\\n` }} {{ 'a' }} {{ 0x1F }} {{ 1_000 }} {{ 0o17 }} {{ 017 }} {{ 1e3 }} {{ .5 }}",
        "Aé\t| raw\\n 97 31 1000 15 15 1000 0.5",
    ),
    (
        '{{ printf "%5s|%-5s|%.2s|%5.1s|" "ab" "ab" "abc" "xyz" }} {{ printf "%v %v" (args 1 "a") (args) }}',
        "   ab|ab   |ab|    x| map[arg0:1 arg1:a] map[]",
    ),
    (
        '{{ humanize 1234567 }} {{ humanize 0.001234 }} {{ humanize 0 }} {{ humanize -1234.5 }} {{ humanize "12345" }} {{ humanize 1e30 }} {{ humanize 1e-30 }}',
        "1.235M 1.234m 0 -1.234k 12.35k 1e+06Y 1e-06y",
    ),
    (
        "{{ humanize1024 1024 }} {{ humanize1024 1048576.0 }} {{ humanize1024 0.12 }} {{ humanize1024 1 }} {{ humanize1024 -2048 }} {{ humanize1024 1e30 }}",
        "1ki 1Mi 0.12 1 -2ki 8.272e+05Yi",
    ),
    (
        "{{ humanizeDuration 3600 }} {{ humanizeDuration 0 }} {{ humanizeDuration 0.5 }} {{ humanizeDuration 90061.5 }} {{ humanizeDuration 59.99 }} {{ humanizeDuration -3700 }} {{ humanizeDuration 0.000001234 }} {{ humanizeDuration 65 }}",
        "1h 0m 0s 0s 500ms 1d 1h 1m 1s 59.99s -1h 1m 40s 1.234us 1m 5s",
    ),
    (
        '{{ humanizePercentage 0.1234 }} {{ humanizePercentage 1 }} {{ humanizePercentage 0.000123 }} {{ humanizePercentage "0.5" }}',
        "12.34% 100% 0.0123% 50%",
    ),
    (
        "{{ humanizeTimestamp 1435065584.128 }} {{ humanizeTimestamp 0 }} {{ humanizeTimestamp 1.5 }} {{ toTime 1435065584 }}",
        "2015-06-23 13:19:44.128 +0000 UTC 1970-01-01 00:00:00 +0000 UTC 1970-01-01 00:00:01.5 +0000 UTC 2015-06-23 13:19:44 +0000 UTC",
    ),
    (
        '{{ title "hello wORLD foo-bar_baz" }} {{ toUpper "abc" }} {{ toLower "ABC" }} {{ match "^h.*" "hello" }} {{ match "x" "abc" }}',
        "Hello WORLD Foo-Bar_baz ABC abc true false",
    ),
    (
        '{{ reReplaceAll "(\\\\w+):(\\\\d+)" "$2-$1 ${1}x $1x $$" "host:9100 other:80" }}',
        "9100-host hostx  $ 80-other otherx  $",
    ),
    (
        '{{ safeHtml "<b>" }} {{ stripPort "host:9100" }} {{ stripPort "[::1]:80" }} {{ stripPort "host" }} {{ stripDomain "host.example.com:9100" }} {{ stripDomain "1.2.3.4:80" }} {{ stripDomain "foo.bar" }}',
        "<b> host ::1 host host:9100 1.2.3.4:80 foo",
    ),
    (
        '{{ humanize "abc" }}',
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <humanize "abc">: error calling humanize: strconv.ParseFloat: parsing "abc": invalid syntax>',
    ),
    (
        "{{ title 5 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:121: executing "__alert_T" at <5>: expected string; found 5>',
    ),
    (
        "{{ title $value }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:121: executing "__alert_T" at <$value>: wrong type for value; expected string; got float64>',
    ),
    (
        "{{ index $labels 1 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <index $labels 1>: error calling index: value has type int; should be string>',
    ),
    (
        "{{ index 5 1 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <index 5 1>: error calling index: can\'t index item of type int>',
    ),
    (
        "{{ len 3 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <len 3>: error calling len: len of type int>',
    ),
    (
        "{{ range 5 }}x{{ end }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:121: executing "__alert_T" at <5>: range can\'t iterate over 5>',
    ),
    (
        "{{ .Labels.job 1 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:122: executing "__alert_T" at <.Labels.job>: job is not a method but has arguments>',
    ),
    (
        "{{ nil }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <nil>: nil is not a command>',
    ),
    (
        "{{ 3 4 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <3>: can\'t give argument to non-function 3>',
    ),
    (
        '{{ parseDuration "abc" }}',
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <parseDuration "abc">: error calling parseDuration: not a valid duration string: "abc">',
    ),
    (
        "{{ toTime 1e300 }}",
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <toTime 1e300>: error calling toTime: 1e+300 cannot be represented as a nanoseconds timestamp since it overflows int64>',
    ),
    ('{{ eq (args).nope "y" }}', "false"),
    (
        '{{ (args).nope }}|{{ index (args) "zz" }}|{{ print (args).nope }}',
        "<no value>|<no value>|<nil>",
    ),
    ('{{ printf "%s" (args).nope }}', "%!s(<nil>)"),
    ("{{ range $i, $e := (args 5 6) }}{{ $i }}:{{ $e }} {{ end }}", "arg0:5 arg1:6 "),
    (
        '{{ slice "hello" 3 1 }}',
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <slice "hello" 3 1>: error calling slice: invalid slice index: 3 > 1>',
    ),
    (
        '{{ index "abc" 3 }}',
        '<error expanding template: error executing template __alert_T: template: __alert_T:1:115: executing "__alert_T" at <index "abc" 3>: error calling index: reflect: string index out of range>',
    ),
    ('{{ printf "%v|%s|%d" nil nil nil }}', "<nil>|%!s(<nil>)|%!d(<nil>)"),
    ('{{ printf "%.3v %10.4v|%-10v|" 3.14159 2.0 "s" }}', "3.14          2|s         |"),
    (
        '{{ printf "%6.2f%%" 12.3456 }} {{ printf "%T %T %T %T" 1 1.5 "s" $labels }}',
        " 12.35% int float64 string map[string]string",
    ),
    (
        '{{ printf "%08.3f|%+.2e|% d|%x|%X" -3.14159 12345.678 5 "hi" 3.5 }}',
        "-003.142|+1.23e+04| 5|6869|0X1.CP+01",
    ),
    (
        '{{ printf "%v" 1e-7 }} {{ 123456.0 }} {{ 1234567.0 }} {{ 12345678912345678.0 }} {{ 5e-324 }} {{ 1.7976931348623157e308 }}',
        "1e-07 123456 1.234567e+06 1.2345678912345678e+16 5e-324 1.7976931348623157e+308",
    ),
]
