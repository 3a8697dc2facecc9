extension Fmt {
    /// The candidate closest to `word`, for "unknown command 'trian'; did you mean 'train'?".
    ///
    /// Uses the Damerau–Levenshtein distance (optimal string alignment: insertions, deletions,
    /// substitutions and swaps of two adjacent characters each cost 1), ignoring case. A
    /// candidate is suggested only if it is at most `max(1, (word.count + 1) / 3)` edits away:
    /// one edit for words of up to 4 characters, two up to 7, and so on. Ties go to the
    /// candidate listed first. Returns `nil` when nothing is close enough.
    public static func closest(_ word: String, in candidates: [String]) -> String? {
        guard !word.isEmpty else { return nil }
        let limit = max(1, (word.count + 1) / 3)
        var best: (candidate: String, distance: Int)?
        let length = word.count
        for candidate in candidates {
            // The distance is at least the difference in length: skip the table for a long paste.
            if abs(candidate.count - length) > limit { continue }
            let distance = editDistance(word.lowercased(), candidate.lowercased())
            if distance <= limit, distance < best?.distance ?? .max {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Optimal string alignment distance between `a` and `b`, by dynamic programming.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        // d[i][j] = distance between the first i characters of a and the first j of b.
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
