// Implementation of eval_results.h.
#include "halo/eval/eval_results.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace halo::eval {

namespace {

std::string fixed(double x, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

std::string percent(double x) {
  return fixed(100.0 * x, 1) + "%";
}

std::string row(const std::vector<std::string>& cells) {
  std::string s = "|";
  for (const auto& c : cells) s += " " + c + " |";
  return s + "\n";
}

std::string header(const std::vector<std::string>& cells) {
  std::string s = row(cells) + "|";
  for (size_t i = 0; i < cells.size(); ++i) s += i == 0 ? " --- |" : " ---: |";
  return s + "\n";
}

std::vector<std::string> model_names(const nlohmann::json& results) {
  std::vector<std::string> names;
  for (const auto& m : results.at("models")) names.push_back(m.at("name").get<std::string>());
  return names;
}

std::string niah_section(const std::string& name, const nlohmann::json& t,
                         const std::vector<std::string>& models) {
  std::vector<std::string> head = {"model", "length"};
  for (const auto& d : t.at("depths")) head.push_back("depth " + fixed(d.get<double>(), 2));
  head.push_back("mean");
  std::string s = "## " + name + "\n\nAccuracy per length and needle depth (" +
                  std::to_string(t.at("trials").get<int64_t>()) + " trials per cell).\n\n" +
                  header(head);
  const auto& lengths = t.at("lengths");
  for (const auto& m : models) {
    if (!t.at("accuracy").contains(m)) continue;
    const auto& grid = t.at("accuracy").at(m);
    for (size_t l = 0; l < lengths.size(); ++l) {
      std::vector<std::string> cells = {m, std::to_string(lengths[l].get<int64_t>())};
      double sum = 0.0;
      for (const auto& a : grid[l]) {
        cells.push_back(percent(a.get<double>()));
        sum += a.get<double>();
      }
      cells.push_back(percent(grid[l].empty() ? 0.0 : sum / static_cast<double>(grid[l].size())));
      s += row(cells);
    }
  }
  return s + "\n";
}

std::string retrieval_section(const std::string& name, const nlohmann::json& t,
                              const std::vector<std::string>& models) {
  std::vector<std::string> head = {"model"};
  for (const auto& l : t.at("lengths")) head.push_back(std::to_string(l.get<int64_t>()));
  std::string s = "## " + name + "\n\nAccuracy per prompt length (" +
                  std::to_string(t.at("trials").get<int64_t>()) + " prompts each).\n\n" +
                  header(head);
  for (const auto& m : models) {
    if (!t.at("accuracy").contains(m)) continue;
    std::vector<std::string> cells = {m};
    for (const auto& a : t.at("accuracy").at(m)) cells.push_back(percent(a.get<double>()));
    s += row(cells);
  }
  return s + "\n";
}

std::string position_section(const nlohmann::json& t, const std::vector<std::string>& models) {
  std::vector<std::string> head = {"positions"};
  std::vector<std::string> shown;
  for (const auto& m : models) {
    if (t.at("loss").contains(m)) shown.push_back(m), head.push_back(m);
  }
  std::string s = "## ppl-by-position\n\nMean next-token loss (nats) per position bucket";
  if (!t.at("train_length").is_null()) {
    s += "; training length " + std::to_string(t.at("train_length").get<int64_t>());
  }
  s += ".\n\n" + header(head);
  const auto& edges = t.at("bucket_edges");
  for (size_t b = 0; b + 1 < edges.size(); ++b) {
    std::vector<std::string> cells = {std::to_string(edges[b].get<int64_t>()) + "-" +
                                      std::to_string(edges[b + 1].get<int64_t>() - 1)};
    for (const auto& m : shown) cells.push_back(fixed(t.at("loss").at(m)[b].get<double>(), 3));
    s += row(cells);
  }
  return s + "\n";
}

std::string mc_section(const std::string& name, const nlohmann::json& t,
                       const std::vector<std::string>& models) {
  std::string s = "## " + name + "\n\n" + t.at("file").get<std::string>() + ", " +
                  std::to_string(t.at("items").get<int64_t>()) + " items.\n\n" +
                  header({"model", "acc", "acc_norm"});
  for (const auto& m : models) {
    if (!t.at("acc").contains(m)) continue;
    s += row({m, fixed(t.at("acc").at(m).get<double>(), 3),
              fixed(t.at("acc_norm").at(m).get<double>(), 3)});
  }
  return s + "\n";
}

}  // namespace

std::vector<std::string> unique_model_names(const std::vector<std::string>& folders) {
  std::vector<std::string> names;
  for (const auto& f : folders) {
    auto p = std::filesystem::path(f).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
    std::string base = p.filename().string();
    if (base.empty() || base == ".") base = "model";
    std::string name = base;
    for (int k = 2; std::find(names.begin(), names.end(), name) != names.end(); ++k) {
      name = base + "-" + std::to_string(k);
    }
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> task_order(const nlohmann::json& results) {
  std::vector<std::string> names;
  if (results.contains("task_order")) {
    for (const auto& n : results.at("task_order")) {
      if (results.at("tasks").contains(n.get<std::string>())) names.push_back(n);
    }
    return names;
  }
  for (const auto& [name, t] : results.at("tasks").items()) names.push_back(name);
  return names;
}

std::string eval_results_markdown(const nlohmann::json& results) {
  const auto models = model_names(results);
  std::string s = "# Evaluation\n\nModels:";
  const auto& list = results.at("models");
  for (size_t i = 0; i < list.size(); ++i) {
    s += " " + list[i].at("name").get<std::string>() + " (`" +
         list[i].at("path").get<std::string>() + "`)" + (i + 1 == list.size() ? "." : ",");
  }
  s += " Seed " + std::to_string(results.at("seed").get<uint64_t>()) + ", " +
       results.at("created").get<std::string>() + ".\n\n";
  for (const auto& name : task_order(results)) {
    const auto& t = results.at("tasks").at(name);
    if (t.contains("depths")) {
      s += niah_section(name, t, models);
    } else if (t.contains("lengths")) {
      s += retrieval_section(name, t, models);
    } else if (t.contains("bucket_edges")) {
      s += position_section(t, models);
    } else if (t.contains("acc")) {
      s += mc_section(name, t, models);
    }
  }
  return s;
}

}  // namespace halo::eval
