// The style sheet inlined into `trace --html`'s page (the page itself: trace-html.ts; its script:
// trace-html-script.ts).

export const CLIENT_CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;max-width:1320px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:1.8rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
code{background:#f2f4f7;padding:.1rem .3rem;border-radius:4px;font-size:.9em;word-break:break-all}
.meta{color:#57606a;font-size:.9rem;margin:.2rem 0}.meta.capped{color:#6b4700;font-weight:600}
.howto{color:#3d444d;font-size:.92rem;background:#f6f8fa;border-left:4px solid #8c959f;padding:.5rem .8rem}
.empty{color:#57606a;font-style:italic}.note{color:#57606a;font-size:.85rem}
table{border-collapse:collapse;font-size:13px}
table.totals th{text-align:left;font-weight:600;padding:.15rem .8rem .15rem 0;white-space:nowrap}
table.totals td{padding:.15rem .8rem .15rem 0}table.totals td.num{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
table.events{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
table.events th,table.events td{border-bottom:1px solid #eaeef2;padding:.1rem .5rem;text-align:left}
table.events th{background:#f6f8fa;position:sticky;top:0}table.events td.num{text-align:right}
table.events td.kind{font-weight:600}table.events tr.inchain td{background:#fff8c5}table.events tr:hover td{background:#eef4ff}
.scroll{overflow:auto}.tall{max-height:420px;border:1px solid #d0d7de}.listbox{max-height:260px;border:1px solid #d0d7de;position:relative}
.controls{font-size:.9rem;margin:.3rem 0}.controls label{margin-right:1rem}
.legend{font-size:.8rem;margin:.2rem 0;line-height:1.9}.lg{margin-right:.9rem;white-space:nowrap}
.sw{display:inline-block;width:.75em;height:.95em;margin-right:.3em;vertical-align:-.12em;border-radius:1px}
.tlwrap{position:relative}
#timeline{display:block;max-width:100%;height:auto;user-select:none;cursor:crosshair}
#timeline text{font-family:system-ui,sans-serif}
.rowlabel{font-size:11px;fill:#3d444d}.tick{font-size:10px;fill:#57606a}.axisline{stroke:#8c959f;stroke-width:1}
.band{fill:#fafbfc}.band.g-kvm{fill:#f3f6fa}.band.g-host{fill:#faf6f1}
#plot line.m{stroke-width:1.6px;vector-effect:non-scaling-stroke}
#plot line.m.hl{stroke-width:3.5px}
#plot rect.span{opacity:.35}#plot rect.span.hl{opacity:.75}
#selband{fill:#ffe066;opacity:.45}
#brush{fill:#0969da;opacity:.12}
.o-fixed{stroke:#2da44e;background:#2da44e}.o-swap-in{stroke:#8250df;background:#8250df}.o-retry,.k-retry{stroke:#fb8500;background:#fb8500}
.o-guest-pf,.k-gpf{stroke:#bf3989;background:#bf3989}.o-mmio,.k-mmio,.o-open,.o-failed{stroke:#6e7781;background:#6e7781}
.k-ptw{stroke:#0969da;background:#0969da}
.k-set{stroke:#2da44e;background:#2da44e}.k-zap{stroke:#cf222e;background:#cf222e}.k-zap.z-other{stroke:#ff8182}
.k-flush{stroke:#24292f;background:#24292f}.k-ownflush{stroke:#8c959f}
.k-task,.t-kswapd{stroke:#953800;background:#953800}.t-ksmd{stroke:#1b7c83;background:#1b7c83}.k-age{stroke:#c4c9cf;background:#c4c9cf}.k-other{stroke:#8c959f}
.ev-UNMAP{stroke:#cf222e;fill:#cf222e;background:#cf222e}.ev-CLEAR{stroke:#0969da;fill:#0969da;background:#0969da}
.ev-PROTECTION_VMA{stroke:#9a6700;fill:#9a6700;background:#9a6700}.ev-PROTECTION_PAGE{stroke:#bf8700;fill:#bf8700;background:#bf8700}
.ev-SOFT_DIRTY{stroke:#6e7781;fill:#6e7781;background:#6e7781}.ev-RELEASE{stroke:#24292f;fill:#24292f;background:#24292f}
.ev-MIGRATE{stroke:#8250df;fill:#8250df;background:#8250df}.ev-EXCLUSIVE{stroke:#1b7c83;fill:#1b7c83;background:#1b7c83}
#tip{position:absolute;pointer-events:none;background:#1f2328;color:#fff;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;padding:.3rem .5rem;border-radius:4px;white-space:pre;z-index:2;max-width:none}
ol#chainlist{margin:0;padding:.3rem .5rem .3rem 3rem;font-size:13px}
ol#chainlist li{padding:.05rem .2rem;cursor:pointer}ol#chainlist li.nozap{color:#6e7781}
ol#chainlist li.sel{background:#fff8c5;outline:1px solid #d4a72c}ol#chainlist a{color:inherit;text-decoration:none}
ol#chainlist li.refault a::after{content:"  \\21bb";color:#8250df}
.raced{color:#bc4c00;font-weight:600}
#chainview{margin-top:.6rem}#chainview svg{display:block;max-width:100%;height:auto}
.node rect{fill:#fff;stroke:#8c959f;stroke-width:1.2}.node text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#1f2328}
.node text.h{font:600 12px system-ui,sans-serif}.node.cause rect{fill:#fff1e5;stroke:#bc4c00}.node.inv rect{fill:#ddf4ff;stroke:#0969da}
.node.zap rect{fill:#ffebe9;stroke:#cf222e}.node.flush rect{fill:#f6f8fa;stroke:#24292f}.node.end rect{fill:#ddf4ff;stroke:#0969da}
.node.refault rect{fill:#fbefff;stroke:#8250df}.node.none rect{fill:#f6f8fa;stroke:#d0d7de;stroke-dasharray:3 3}.node.race rect{fill:#fff8c5;stroke:#d4a72c}
.node[data-gfn]{cursor:pointer}.node[data-gfn]:hover rect{stroke-width:2.4}
.arrow{stroke:#57606a;stroke-width:1.4;fill:none;marker-end:url(#ah)}.arrow.race{stroke:#bc4c00;stroke-dasharray:4 3}
.k-unseen{stroke:#5a32a3;background:#5a32a3;stroke-dasharray:3 2}.k-stale{stroke:#e0008a;background:#e0008a}
#cursor{stroke:#0969da;stroke-width:1.5px;vector-effect:non-scaling-stroke;stroke-dasharray:4 3}
#plot line.m.cur{stroke-width:5px;stroke:#0969da}
.player{border:1px solid #d0d7de;border-radius:6px;padding:.4rem .7rem;background:#fbfcfd}
.player button{font:inherit;padding:.15rem .7rem;border-radius:5px;border:1px solid #8c959f;background:#fff;cursor:pointer}
.pcur{font-size:13px;margin:.3rem 0;min-height:1.3em}.pnote{font-size:.88rem;color:#3d444d;min-height:1.3em;margin:.3rem 0}
.boxes{display:flex;align-items:stretch;flex-wrap:wrap;gap:.2rem;margin:.4rem 0}
.box{border:2px solid #8c959f;border-radius:6px;padding:.25rem .45rem;min-width:150px;max-width:250px;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#fff;transition:background .25s}
.box b{display:block;font:600 12px system-ui,sans-serif;margin-bottom:.1rem}
.box.s-ok{border-color:#2da44e}.box.s-none{border-color:#d0d7de;border-style:dashed;color:#6e7781}.box.s-warn{border-color:#bf8700}.box.s-bad{border-color:#e0008a;background:#ffeff7}
.box.changed{box-shadow:0 0 0 3px #ffe066}
.link{align-self:center;font-size:20px;font-weight:700;padding:0 .1rem}.link.on{color:#2da44e}.link.off{color:#d0d7de}.link.bad{color:#e0008a}
.node.future{opacity:.12}.arrow.future{opacity:.1}
.node.unseen rect{fill:#f3efff;stroke:#5a32a3}.node.stalespte rect{fill:#fff8c5;stroke:#9a6700}.node.owner rect{fill:#ffeff7;stroke:#e0008a}.node.stale rect{fill:#e0008a;stroke:#a0005f}.node.stale text{fill:#fff}
.arrow.bad{stroke:#e0008a}
ol#unseenlist{margin:0;padding:.3rem .5rem .3rem 3rem;font-size:13px}ol#unseenlist li{cursor:pointer;padding:.05rem .2rem}ol#unseenlist li.quiet{color:#6e7781}
ol#unseenlist li.sel{background:#fff8c5;outline:1px solid #d4a72c}ol#unseenlist a{color:inherit;text-decoration:none}
.bugpair{display:flex;flex-direction:column;gap:.4rem;margin-top:.6rem}.bugpair svg{display:block;max-width:100%;height:auto}
.cmphead{font-size:.9rem;border-top:1px dashed #d0d7de;padding-top:.4rem}
pre.lines,pre.xlate{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#f6f8fa;border:1px solid #eaeef2;padding:.4rem .6rem;overflow-x:auto}
details#xlates{margin:.8rem 0}details#xlates summary{cursor:pointer;font-size:.92rem}
a.gfn{color:#0969da;cursor:pointer;text-decoration:underline dotted}
.pagesum{font-size:.92rem}.pagesum li{margin:.1rem 0}
`;
