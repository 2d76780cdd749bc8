document.querySelectorAll('tr[data-href]').forEach(function(tr){
  tr.addEventListener('click',function(e){ if(e.target.closest('a,button')) return; location.href=tr.dataset.href; });
});
// The table search as the server runs it (ranking_search::keep_matching), so the rows shown
// are the rows the CSV link, which follows the box, downloads: every word of the term, folded
// as fold_for_search folds it, found in "#id" or the folded name; or the term names the id
// ("012", "+12"). Words are split where Rust's char::is_whitespace splits them.
var SPACE=/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
function rowMatches(tr, term){
  var digits=term.replace(/^#+/,'');
  var named=/^[+-]?[0-9]+$/.test(digits) && BigInt(digits)===BigInt(tr.dataset.id);
  var id='#'+tr.dataset.id, name=tr.dataset.name;
  return named || term.split(SPACE).every(function(word){
    return id.indexOf(word)>=0 || name.indexOf(word)>=0;
  });
}
document.querySelectorAll('input[data-filter-table]').forEach(function(input){
  var id=input.dataset.filterTable, table=document.getElementById(id); if(!table) return;
  input.addEventListener('input',function(){
    var typed=input.value.replace(new RegExp('^('+SPACE.source+')|('+SPACE.source+')$','g'),'');
    var term=typed.toLowerCase().replace(/ς/g,'σ');
    table.querySelectorAll('tbody tr').forEach(function(tr){
      tr.hidden = term!=='' && !rowMatches(tr, term);
    });
    document.querySelectorAll('a[data-filter-link="'+id+'"]').forEach(function(a){
      var url=new URL(a.getAttribute('href'), location.href);
      if(typed==='') url.searchParams.delete('q'); else url.searchParams.set('q', typed);
      a.setAttribute('href', url.pathname+url.search);
    });
  });
});
document.querySelectorAll('button[data-copy]').forEach(function(b){
  b.addEventListener('click',function(){ if(navigator.clipboard) navigator.clipboard.writeText(b.dataset.copy); b.textContent='Copied'; });
});
