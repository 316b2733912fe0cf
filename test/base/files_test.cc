#include "base/files.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

namespace tabby {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tabby-files-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    (void)unlink((dir_ + "/status.json").c_str());
    (void)rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(FilesTest, DirectoryChangesWakesOnAReplacedFile) {
  DirectoryChanges changes(dir_);
  ASSERT_TRUE(changes.watching());
  EXPECT_FALSE(changes.Wait(0)) << "nothing changed yet";
  // Written before the wait begins: the change is queued, not lost.
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/status.json", "{}\n").ok());
  EXPECT_TRUE(changes.Wait(30'000));
  EXPECT_FALSE(changes.Wait(0)) << "one replacement wakes one wait";
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/status.json", "{\"revision\": 2}\n").ok());
  EXPECT_TRUE(changes.Wait(30'000));
  EXPECT_EQ(*ReadFile(dir_ + "/status.json"), "{\"revision\": 2}\n");
}

TEST_F(FilesTest, DirectoryChangesWithoutTheDirectoryOnlySleeps) {
  DirectoryChanges changes(dir_ + "/missing");
  EXPECT_FALSE(changes.watching());
  EXPECT_FALSE(changes.Wait(1));
}

}  // namespace
}  // namespace tabby
