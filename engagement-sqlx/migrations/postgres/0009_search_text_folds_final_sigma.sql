-- Search texts are now folded by `fold_for_search`, which writes the final sigma as σ, where
-- `str::to_lowercase` wrote a word-final Σ as ς (and kept a typed ς): records stored before
-- are folded the same way here, so that a search for "ΚΩΣ" finds "ΚΩΣΤΑΣ" however old it is.
UPDATE {prefix}customers SET search_text = REPLACE(search_text, 'ς', 'σ')
WHERE search_text LIKE '%ς%'
