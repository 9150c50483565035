const fs=require('fs');const p=JSON.parse(fs.readFileSync(process.argv[2]));const by=new Map(p.nodes.map(n=>[n.id,n]));const B=+(process.argv[3]||250)*1000;
const buckets=[];let t=0;p.samples.forEach((id,i)=>{t+=p.timeDeltas[i];const b=Math.floor(t/B);buckets[b]??={busy:0,idle:0};const f=by.get(id).callFrame.functionName;if(f==='(idle)')buckets[b].idle+=p.timeDeltas[i];else buckets[b].busy+=p.timeDeltas[i];});
console.log(buckets.map((b,i)=>b?`${i}:${(100*b.busy/(b.busy+b.idle)).toFixed(0)}`:'').join(' '));
