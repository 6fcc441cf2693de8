using MyHypervisor.HelpBuilder.Model;
using MyHypervisor.HelpBuilder.Reading;
using MyHypervisor.HelpBuilder.Writing;

// HelpBuilder <docsDir> <outputXml>: every cmdlet page in docsDir (PlatyPS v1 markdown) becomes a
// command in one MAML file. The module page (front matter with 'Module Guid') is skipped.
// Exit codes: 0 written, 1 malformed docs (each problem printed as file(line): message), 2 usage.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: HelpBuilder <docsDir> <outputXml>");
    return 2;
}
var (docsDir, output) = (args[0], args[1]);
if (!Directory.Exists(docsDir))
{
    Console.Error.WriteLine($"HelpBuilder: no docs folder at '{docsDir}'");
    return 2;
}

var commands = new List<CommandHelp>();
var problems = new List<DocProblem>();
var helpFileName = Path.GetFileName(output);
foreach (var file in Directory.EnumerateFiles(docsDir, "*.md").Order(StringComparer.Ordinal))
{
    var text = File.ReadAllText(file);
    var front = CommandHelpReader.ReadFrontMatter(text);
    if (front.ContainsKey("Module Guid")) continue;
    if (front.TryGetValue("external help file", out var named) && named != helpFileName)
        problems.Add(new DocProblem(file, 1, $"'external help file: {named}' but this build writes '{helpFileName}'"));
    var (help, found) = CommandHelpReader.Read(file, text);
    problems.AddRange(found);
    if (help is null) continue;
    if (commands.Any(c => c.Name.Equals(help.Name, StringComparison.OrdinalIgnoreCase)))
        problems.Add(new DocProblem(file, 1, $"{help.Name} is documented in two files"));
    commands.Add(help);
}
if (commands.Count == 0 && problems.Count == 0)
    problems.Add(new DocProblem(docsDir, 0, "no cmdlet pages (*.md with 'external help file' front matter)"));

if (problems.Count > 0)
{
    foreach (var problem in problems) Console.Error.WriteLine(problem);
    Console.Error.WriteLine($"HelpBuilder: {problems.Count} problem(s) in the docs; no help was written.");
    return 1;
}

MamlWriter.Save(MamlWriter.Build(commands), output);
Console.WriteLine($"HelpBuilder: {commands.Count} cmdlet(s) -> {output}");
return 0;
