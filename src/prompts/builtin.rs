//! The prompts shipped in the binary. A file `<IDE_AGENTS_PROMPTS_DIR>/<name>.md` replaces
//! a template; `{{argument}}` placeholders are filled in from the request's arguments.

/// One argument of a prompt.
#[derive(Debug)]
pub struct ArgDef {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// Values `completion/complete` offers (prefix match); empty for free text.
    pub suggestions: &'static [&'static str],
}

#[derive(Debug)]
pub struct PromptDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: &'static [ArgDef],
    pub template: &'static str,
}

/// Search words that make sense for GitHub ranking queries, offered as completions.
const QUERY_WORDS: &[&str] = &[
    "bug",
    "crash",
    "documentation",
    "good first issue",
    "help wanted",
    "memory leak",
    "performance",
    "regression",
    "security",
    "test failure",
];

const QUERY: ArgDef = ArgDef {
    name: "query",
    description: "What to rank by: words matched against names, descriptions and titles",
    required: true,
    suggestions: QUERY_WORDS,
};

/// Sorted by name: the listing order.
pub const PROMPTS: &[PromptDef] = &[
    PromptDef {
        name: "diff_review",
        title: "Review a diff",
        description: "Review a change for bugs, risk and missing tests before it is committed",
        arguments: &[ArgDef {
            name: "diff",
            description: "The unified diff to review",
            required: true,
            suggestions: &[],
        }],
        template: "Review the following change as a careful senior engineer would before it is \
committed.\n\n\
1. Summarise what the change does in two or three sentences.\n\
2. List correctness problems first (wrong logic, unhandled errors, races, resource leaks), \
each with the file and line it concerns and a concrete fix.\n\
3. Then list risks: behaviour changes callers may not expect, security concerns (paths, \
shell commands, secrets), performance on hot paths.\n\
4. Name the tests that are missing for the new behaviour.\n\
Use ide_agents_resource (name `repo.graph`) to see the layout of the workspace when the diff \
touches files you have not seen. Do not restate the diff.\n\n\
```diff\n{{diff}}\n```\n",
    },
    PromptDef {
        name: "hotfix_plan",
        title: "Plan a hotfix",
        description: "Turn an incident description into a minimal, safe hotfix plan",
        arguments: &[ArgDef {
            name: "incident",
            description: "What is broken: symptoms, error messages, since when, who is affected",
            required: true,
            suggestions: &[],
        }],
        template: "An incident needs a hotfix. Incident report:\n\n{{incident}}\n\n\
Produce a plan with these sections:\n\
- **Impact**: who is affected and how badly, in one paragraph.\n\
- **Likely cause**: the most probable cause and the evidence for it; read `build.logs` \
(ide_agents_resource) and search the knowledge base (`kb.snippet`) before guessing.\n\
- **Smallest safe fix**: the minimal change, the files it touches, and why it cannot make \
things worse.\n\
- **Verification**: the exact commands to run (propose them with ide_agents_command \
method `dry_run` first; running them needs the user's approval).\n\
- **Rollback**: how to undo the fix.\n\
- **Follow-up**: the proper fix and the test that would have caught this.\n",
    },
    PromptDef {
        name: "rank_github_all",
        title: "Rank repositories, issues and pull requests",
        description: "Rank the user's repositories together with their open issues and pull requests",
        arguments: &[QUERY],
        template: "Find what deserves attention for: {{query}}\n\n\
Call ide_agents_github_rank_all with query \"{{query}}\" (state `open`). From its ranking, \
present the ten highest-scoring items as a table: type (repo, issue or PR), repository, \
title or name, normalised score (0–10), and one line on why it matters for the query. Then \
recommend the three to look at first. If the tool reports a bad token or a rate limit, say \
so and stop.\n",
    },
    PromptDef {
        name: "rank_github_repos",
        title: "Rank repositories",
        description: "Rank the user's GitHub repositories by relevance to a query",
        arguments: &[QUERY],
        template: "Rank my GitHub repositories by relevance to: {{query}}\n\n\
Call ide_agents_github_rank_repos with query \"{{query}}\" and top 10. Show the result as a \
numbered list: full name, score, stars, and one sentence on why it matches. Mention \
repositories that look relevant but scored low. If the tool reports a bad token or a rate \
limit, say so and stop.\n",
    },
    PromptDef {
        name: "rank_top_bug_prs",
        title: "Top bug-fix pull requests",
        description: "Find the open pull requests that fix bugs and rank them for review",
        arguments: &[],
        template: "Find the open pull requests across my repositories that fix bugs, and rank \
them for review.\n\n\
Call ide_agents_github_rank_all with query \"bug fix\", state `open` and items_per_repo 30. \
Keep only pull requests. For the top ten, give: repository, PR title, score, age, and \
whether it touches code that has failing builds (`build.logs`). Recommend the order in \
which to review them, most urgent first.\n",
    },
    PromptDef {
        name: "test_failures",
        title: "Explain test failures",
        description: "Explain failing tests from a test report and propose fixes",
        arguments: &[ArgDef {
            name: "report",
            description: "The test runner's output for the failing tests",
            required: true,
            suggestions: &[],
        }],
        template: "These tests fail. Report:\n\n```\n{{report}}\n```\n\n\
For each failing test: name it, say what it checks, quote the assertion or error that \
failed, and give the most likely cause. Group failures that share a cause. Read \
`build.logs` and `repo.graph` (ide_agents_resource) for context. Propose a fix for each \
cause, saying whether the code or the test is wrong, and the command to re-run only those \
tests (as an ide_agents_command `dry_run`).\n",
    },
];

pub fn find(name: &str) -> Option<&'static PromptDef> {
    PROMPTS.iter().find(|p| p.name == name)
}
