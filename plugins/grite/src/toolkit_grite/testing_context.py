"""Small source files in every language `grite context index` reads (tests and interop tests share them)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLES", "write_samples"]

#: Repository path -> content: one file per extension 0.5.3 indexes, with the constructs each
#: language's patterns name (and a few that match two patterns on one line).
SAMPLES = {
    "src/lib.rs": (
        "pub struct Config {\n    pub name: String,\n}\n\npub enum State { Open, Closed }\n\n"
        "pub trait Handler {\n    fn handle(&self);\n}\n\nimpl Config {\n    pub fn new(name: String) -> Self {\n"
        '        Self { name }\n    }\n}\n\npub const MAX_SIZE: usize = 100;\nstatic GREETING: &str = "hi";\n'
        "pub type Res<T> = Result<T, ()>;\n"
    ),
    "app/models.py": (
        "class Account:\n    def __init__(self):\n        self.x = 0\n\n"
        "    def balance(self):\n        return self.x\n\n"
        "def standalone():\n    pass\n\nasync def fetch():\n    pass\n"
    ),
    "web/service.ts": (
        "export function greet(name: string): string {\n    return name;\n}\n\nexport class UserService {\n"
        "    constructor() {}\n}\n\nexport interface Settings {\n    name: string;\n}\n\ntype UserId = string;\n\n"
        "enum Status { Active, Inactive }\n\nconst fetchData = async (url: string) => {\n    return url;\n};\n"
    ),
    "web/App.tsx": (
        "interface Props {\n    name: string;\n}\n\nexport function App(props: Props) {\n"
        "    return <div>{props.name}</div>;\n}\n\ntype Theme = 'light' | 'dark';\n"
    ),
    "web/util.js": (
        "function hello(name) {\n    return name;\n}\n\n"
        "class Animal {\n    constructor(name) {\n        this.name = name;\n"
        "    }\n}\n\nconst shout = (s) => {\n    return s;\n};\n"
    ),
    "web/widget.jsx": "function Widget() {\n    return <p/>;\n}\n",
    "cmd/main.go": (
        "package main\n\nfunc main() {\n}\n\nfunc (s *Server) Start() error {\n    return nil\n}\n\n"
        "type Server struct {\n    Port int\n}\n\ntype Runner interface {\n    Run() error\n}\n\ntype UserID string\n"
    ),
    "java/UserService.java": (
        "public class UserService {\n    private String name;\n\n    public UserService(String name) {\n"
        "        this.name = name;\n    }\n\n    public String getName() {\n        return name;\n    }\n}\n\n"
        "interface Repository {\n    void save(Object entity);\n}\n\nenum Level {\n    LOW,\n    HIGH\n}\n"
    ),
    "c/point.c": (
        "struct Point {\n    int x;\n    int y;\n};\n\nenum Color { RED, GREEN };\n\ntypedef unsigned long ulong;\n\n"
        "int main(int argc, char** argv) {\n    return 0;\n}\n"
    ),
    "c/point.h": "typedef struct Pair {\n    int a;\n} Pair;\n\nint area(int w, int h) { return w * h; }\n",
    "cpp/widget.cpp": (
        "namespace ui {\n\nclass Widget {\npublic:\n    void draw();\n};\n\nstruct Size {\n    double w, h;\n};\n\n"
        "enum Color { Red, Blue };\n\n}\n\nvoid process(int n) {\n    return;\n}\n"
    ),
    "cpp/shape.hpp": "class Shape {};\n",
    "cpp/extra.cc": "int twice(int n) { return 2 * n; }\n",
    "cpp/more.cxx": "struct Empty {};\n",
    "lib/auth.rb": (
        "module Authentication\n  class User\n    def initialize(name)\n      @name = name\n    end\n\n"
        "    def self.find(id)\n      new(id)\n    end\n\n    def greet\n      @name\n    end\n  end\nend\n"
    ),
    "lib/users.ex": (
        "defmodule MyApp.Users do\n  def get_user(id) do\n    id\n  end\n\n  defp validate(user) do\n    :ok\n  end\n\n"
        "  def ping, do: :pong\nend\n"
    ),
    "lib/script.exs": "defmodule Script do\nend\n",
    "empty.py": "",
    "README.md": "# not indexed\n",
}


def write_samples(repo: Path) -> list[str]:
    """Write `SAMPLES` into `repo` (not staged); return their paths."""
    for rel, text in SAMPLES.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return list(SAMPLES)
